import subprocess
import sys

from ib_futures.airflow.provider import IBKR_CONN_FIELDS, get_provider_info


def test_provider_registers_ibkr_connection_type():
    info = get_provider_info()
    assert info["package-name"] == "ib-futures"
    types = {c["connection-type"]: c["hook-class-name"] for c in info["connection-types"]}
    assert types == {
        "ibkr": "ib_futures.airflow.hooks.ib.IBHook",
        "delta_lake": "ib_futures.airflow.hooks.lake.DeltaLakeHook",
    }


def test_airflow_providers_hooks_lists_ibkr_with_its_form_fields():
    """What `airflow providers hooks` and the connection form see, through the entry point."""
    code = (
        "from airflow.providers_manager import ProvidersManager as P\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "pm = P(); h = pm.hooks['ibkr']\n"
        "print('HOOK', h.hook_class_name, h.package_name)\n"
        "print('FIELDS', sorted(k for k in pm.connection_form_widgets if 'ibkr' in k))\n"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    out = [line.split(" ", 1)[1] for line in lines if line.startswith(("HOOK ", "FIELDS "))]
    assert out[0] == "ib_futures.airflow.hooks.ib.IBHook ib-futures"
    assert out[1] == str(sorted(f"extra__ibkr__{k}" for k in IBKR_CONN_FIELDS))
