"""The OCI registry client of the release core (GHCR, or any distribution registry).

``RegistryClient`` authenticates (anonymous, Basic, Bearer token exchange),
lists tags across pages, reads, checks and writes manifests and blobs, and
copies whole images (index and every child) between tags and repositories
without changing their digest.
"""

from .auth import Challenge, RegistryCredentials, parse_challenges, registry_hints
from .client import RegistryClient, parse_registry_url
from .copy import CopyResult
from .errors import BlobUnknown, ManifestUnknown, NameUnknown, RegistryProtocolError
from .links import parse_link_header
from .media import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    digest_of,
)

__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "MANIFEST_ACCEPT",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "BlobUnknown",
    "Challenge",
    "CopyResult",
    "Descriptor",
    "Manifest",
    "ManifestUnknown",
    "NameUnknown",
    "RegistryClient",
    "RegistryCredentials",
    "RegistryProtocolError",
    "digest_of",
    "parse_challenges",
    "parse_link_header",
    "parse_registry_url",
    "registry_hints",
]
