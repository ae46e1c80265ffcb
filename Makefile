# The two commands: `make run` and `make test`. See README.md.
.PHONY: run test bench lint format migrations-check

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh $(ARGS)

bench:
	bash scripts/bench.sh

lint:
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

migrations-check:
	DJANGO_DEBUG=true .venv/bin/python manage.py makemigrations --check --dry-run
