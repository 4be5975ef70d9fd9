"""The console (控制台): server-rendered pages in Simplified Chinese for the offices and donors."""
