'use strict';
module.exports = { ...require('./contract'), ...require('./apps') };
