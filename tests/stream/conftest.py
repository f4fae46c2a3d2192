"""The stream tests share the small deterministic encoder and effnet-lite0 of the index tests."""

from tests.index.conftest import effnet, thumb_encoder  # noqa: F401  (pytest fixtures)
