# Unit tests of the utility modules.
