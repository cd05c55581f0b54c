"""Local tooling: the Genesys Cloud emulator, the local pipeline runner and the ``email2chat`` command."""
