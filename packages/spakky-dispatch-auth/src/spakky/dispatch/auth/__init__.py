"""spakky-dispatch-auth: signed AuthContext snapshots and worker-side authorization."""
