"""The ``metaboost-ci`` command line. Thin: parse, call an operation, print."""
