from kadr.cli.main import entry

entry()
