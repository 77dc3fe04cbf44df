"""pytest plugin: real throwaway servers (filled in by the harness)."""
