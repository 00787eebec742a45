"""Test helpers shared by the keyrelay packages: real local servers, not mocks."""
