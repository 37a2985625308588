"""``tcpmodel export``: the compiled system as a Promela or TLA+ model."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from tcpmodel.base.staging import Staging
from tcpmodel.cli.arguments import scenario_overrides, scenario_words
from tcpmodel.cli.output import EXIT_OK
from tcpmodel.export.write import write_export
from tcpmodel.language.spec import load_spec
from tcpmodel.system.scenario import make_scenario


def run(args) -> int:
    spec = load_spec(args.spec)
    overrides = scenario_overrides(args)
    scenario = make_scenario(spec, overrides)
    command = shlex.join(["tcpmodel", "export", args.spec, "--format", args.format, *scenario_words(overrides)])
    files = write_export(spec, scenario, args.format, command)
    with Staging(Path(args.out), f"{args.format} model") as stage:  # the model's files all or none (base.staging)
        written = [stage.write(name, text) for name, text in files.items()]
        stage.commit()
    if args.json:
        sys.stdout.write(json.dumps({"spec": spec.name, "format": args.format, "scenario": scenario.describe(),
                                     "files": [str(p) for p in written]}, sort_keys=True) + "\n")
    else:
        sys.stdout.write("".join(f"written:  {p}\n" for p in written))
    return EXIT_OK
