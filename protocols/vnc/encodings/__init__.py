"""Rectangle decoders, one encoding per module: ``raw``, ``copyrect``, ``zrle``, ``tight`` (fill, JPEG, basic with
the copy, palette and gradient filters), ``cursor`` (the RichCursor pseudo-encoding); ``zlib_stream`` is the bounded
inflater they share. Each reads its rectangle's bytes from the :class:`~protocols.vnc.stream.RfbStream`, checks
every length against a cap before reading, and writes pixels into the :class:`~protocols.vnc.framebuffer.Framebuffer`.
"""
