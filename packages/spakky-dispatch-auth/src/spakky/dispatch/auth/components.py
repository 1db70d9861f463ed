"""The pods a transport plugin adds for auth-snapshot propagation."""

from spakky.auth.startup import auth_snapshot_propagation_config
from spakky.core.pod.annotations.pod import PodType

from spakky.dispatch.auth.authorizer import TaskAuthorizer
from spakky.dispatch.auth.config import TaskAuthConfig
from spakky.dispatch.auth.propagator import AuthSnapshotPropagator
from spakky.dispatch.auth.snapshot_key import SnapshotKeyCheck
from spakky.dispatch.auth.startup import TaskAuthStartupValidationService

AUTH_COMPONENTS: tuple[PodType, ...] = (
    SnapshotKeyCheck,
    auth_snapshot_propagation_config,
    TaskAuthConfig,
    TaskAuthorizer,
    AuthSnapshotPropagator,
    TaskAuthStartupValidationService,
)
"""spakky-auth's propagation setting pod (adding it twice is a no-op) and ours.

``SnapshotKeyCheck`` comes first: a transport plugin adds these before its
task registration post-processor, so an unsafe snapshot key stops the start
before any signer or verifier is built.

Worker-side enforcement is always on; snapshots are sent only with
``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=true`` and signed / verified by the
container's ``IAuthContextSnapshotSigner`` / ``IAuthContextSnapshotVerifier``.
"""
