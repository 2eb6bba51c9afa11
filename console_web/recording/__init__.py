"""Session recordings on disk, written while the session runs: an asciicast v2 cast, a plain-text transcript and its
time index (``recorder``), read back and searched (``asciicast``, ``transcript``), deleted (``retention``)."""
