"""metaboost-ci: Metaboost's release pipeline as a Dagger module.

`dagger call publish-staging` on a laptop and in GitHub Actions runs the same
code: validate, reserve X.Y.Z-staging.N, build the six images in one session,
smoke-test them, push the immutable tags, verify, move `staging`, prerelease.
`publish-main` promotes a staging build to X.Y.Z and `latest` without
rebuilding. `rehearse` runs both against a registry and a Git remote inside
the session, with no credentials.

(Developers: this docstring is the module's description in `dagger functions`.
Only this package imports `dagger`; the runtime finds `engine.main:MetaboostCi`
through the `dagger.mod` entry point, so `metaboost_ci` and its command line
never load the SDK. Release decisions live in `metaboost_ci.core`.)
"""
