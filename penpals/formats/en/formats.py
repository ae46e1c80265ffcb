"""How dates read in English on Penpals: day first and the month in words
("7 December 2026"), so no reader anywhere mistakes 7/12 for July; liaisons'
tables keep ISO dates (2026-12-07), which sort as they read. Other languages
use Django's formats for them (Spanish: "7 de diciembre de 2026", 07/12/2026).
Templates and code name these formats ("DATE_FORMAT"), never a pattern.
"""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
