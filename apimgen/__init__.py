"""apimgen: declarative, testable Azure API Management AI gateways."""

__version__ = "0.1.0"
