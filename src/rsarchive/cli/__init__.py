"""The ``rsarchive`` command line.  One module per command in this package;
each module defines ``command`` (a click command or group) that only parses
options and calls the library."""
