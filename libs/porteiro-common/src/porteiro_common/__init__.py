"""Runtime shared by every Porteiro service: settings, gRPC server bootstrap,
health, metrics, tracing, JSON logs and client channels."""
