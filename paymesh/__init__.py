"""paymesh: an aggregated payment gateway as a mesh of small gRPC services."""

__version__ = "0.1.0"
API_VERSION = "v1"
