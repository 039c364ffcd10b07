# Unit tests of the config modules.
