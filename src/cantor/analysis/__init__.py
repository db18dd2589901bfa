"""Analysis of separated stems: notes and pitch, instruments, sections, and the written report."""
