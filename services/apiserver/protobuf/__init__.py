"""protobuf package."""
