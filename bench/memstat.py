"""Resident memory of this process, for the Python peers of the memory benches."""


def rss():
    """(VmRSS, VmHWM) in kB."""
    s = open("/proc/self/status").read()
    g = lambda k: int(s.split(k + ":")[1].split()[0])
    return g("VmRSS"), g("VmHWM")


def reset_peak():
    """Starts VmHWM again from the current RSS (Linux clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
