"""The stream side of a process: consumers, their runtime, the ARQ worker and its cluster jobs."""
