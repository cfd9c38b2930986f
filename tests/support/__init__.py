"""Test support: the provider double, the OpenAPI validator, the live gateway server."""
