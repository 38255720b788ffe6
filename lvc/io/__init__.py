"""Media I/O: the only users of PyAV (and of Pillow for PNG output). No torch here."""
