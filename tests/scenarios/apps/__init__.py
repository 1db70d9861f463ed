"""The application of the shared scenarios; its handlers import no transport."""
