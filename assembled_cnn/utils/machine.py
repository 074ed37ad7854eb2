"""What CPU measured a figure: the development VMs differ between sessions (AMD EPYC, Intel Xeon
with or without AMX), so benchmarks and results record it beside their timings."""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_lines() -> list[str]:
    try:
        return CPUINFO.read_text().splitlines()
    except OSError:
        return []


def cpu_name(default: str = "unknown") -> str:
    """The first `model name` of /proc/cpuinfo, or `default` where there is none."""
    return next((line.split(":", 1)[1].strip() for line in _cpuinfo_lines() if line.startswith("model name")),
                default)


def cpu_has_amx() -> bool:
    """Whether the CPU has AMX for bf16 (where mixed bf16 pays on this project's CPU figures)."""
    flags = next((line for line in _cpuinfo_lines() if line.startswith("flags")), "")
    return " amx_bf16" in flags
