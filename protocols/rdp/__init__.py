"""The project's own asyncio RDP client (MS-RDPBCGR), turned into the desktop vocabulary by :mod:`.adapter`."""
