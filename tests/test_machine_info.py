"""The CPU that benchmarks and results record beside their timings."""

from assembled_cnn.utils import machine


def test_cpu_name_and_amx_come_from_cpuinfo(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8488C\n"
                       "flags\t\t: fpu avx512f amx_bf16 amx_tile\nprocessor\t: 1\nmodel name\t: other\n")
    monkeypatch.setattr(machine, "CPUINFO", cpuinfo)
    assert machine.cpu_name() == "Intel(R) Xeon(R) Platinum 8488C" and machine.cpu_has_amx()
    cpuinfo.write_text("model name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2 avx512_vnni\n")
    assert machine.cpu_name() == "AMD EPYC 7B13" and not machine.cpu_has_amx()


def test_without_cpuinfo_the_default_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "missing")
    assert machine.cpu_name("unknown CPU") == "unknown CPU" and not machine.cpu_has_amx()
