# The two commands: `make run` and `make test`. See README.md.
.PHONY: run manage test bench lint typecheck format migrations-check

run:
	bash scripts/run.sh

# python manage.py $(ARGS) against `make run`'s data, running or not (README).
manage:
	@bash scripts/manage.sh $(ARGS)

test:
	bash scripts/test.sh $(ARGS)

bench:
	bash scripts/bench.sh

lint:
	bash scripts/lint.sh

typecheck:
	bash scripts/typecheck.sh

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# Every model change has its migration, and new migrations are safe on a full
# database (a throwaway Postgres; README "Safe migrations").
migrations-check:
	bash scripts/migrations_check.sh
