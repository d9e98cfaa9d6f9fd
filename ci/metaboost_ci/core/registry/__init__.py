"""The OCI registry client of the release core (any distribution registry).

``RegistryClient`` authenticates (anonymous, Basic, Bearer token exchange),
lists tags across pages, reads and checks manifests and config blobs, and
re-tags an image by putting its exact manifest bytes under another tag.
"""

from .auth import Challenge, RegistryCredentials, parse_challenges, registry_hints
from .client import RegistryClient, parse_registry_url
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
