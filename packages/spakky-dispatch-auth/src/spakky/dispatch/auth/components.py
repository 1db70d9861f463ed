"""The pods a transport plugin adds for auth-snapshot propagation."""

from spakky.auth.startup import auth_snapshot_propagation_config
from spakky.core.pod.annotations.pod import PodType

from spakky.dispatch.auth.authorizer import TaskAuthorizer
from spakky.dispatch.auth.config import TaskAuthConfig
from spakky.dispatch.auth.propagator import AuthSnapshotPropagator
from spakky.dispatch.auth.startup import TaskAuthStartupValidationService

AUTH_COMPONENTS: tuple[PodType, ...] = (
    auth_snapshot_propagation_config,
    TaskAuthConfig,
    TaskAuthorizer,
    AuthSnapshotPropagator,
    TaskAuthStartupValidationService,
)
"""spakky-auth's propagation setting pod (adding it twice is a no-op) and ours.

Worker-side enforcement is always on; snapshots are sent only with
``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=true`` and signed / verified by the
container's ``IAuthContextSnapshotSigner`` / ``IAuthContextSnapshotVerifier``.
"""
