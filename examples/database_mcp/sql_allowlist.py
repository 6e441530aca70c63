"""What a query may call: the allow-list of functions, type names and keywords that take '('.

Anything written ``name(`` that is not on these lists is refused, so a function nobody thought
about (EXTRACTVALUE, UPDATEXML, LOAD_FILE, SLEEP, BENCHMARK, current_setting, pg_sleep*,
pg_read_file, dblink, lo_*, …) never reaches the planner, which evaluates parts of a statement
while planning it. The lists hold what analytic SELECTs use: aggregates, window functions,
NULL handling, string, arithmetic and date functions, casts and JSON accessors. Functions
that can allocate without bound on constants at plan time (repeat, lpad, rpad, space) are
left out on purpose.
"""

from __future__ import annotations

COMMON_FUNCTIONS = frozenset(
    """
    count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value grouping
    coalesce nullif greatest least
    lower upper length char_length character_length octet_length bit_length substring substr trim ltrim rtrim
    concat concat_ws replace left right position reverse ascii md5
    abs ceil ceiling floor round sign sqrt power pow exp ln log log10 log2 mod
    cast extract now current_date current_time current_timestamp localtime localtimestamp
    """.split()
)
# Type names, which also appear before '(' as casts (date(x)) or with modifiers (decimal(10,2)).
TYPE_NAMES = frozenset(
    """
    char varchar nchar decimal numeric dec float double real int integer bigint smallint tinyint
    time timestamp datetime date binary varbinary bit interval
    """.split()
)
MYSQL_FUNCTIONS = frozenset(
    """
    ifnull if isnull locate instr truncate field elt find_in_set format hex unhex crc32 std
    curdate curtime utc_date utc_time utc_timestamp date_add date_sub adddate subdate datediff
    timestampdiff timestampadd date_format str_to_date year month day dayofmonth dayofweek dayofyear
    week weekday weekofyear yearweek quarter hour minute second microsecond monthname dayname
    last_day makedate from_days to_days unix_timestamp from_unixtime convert
    group_concat bit_and bit_or bit_xor
    json_extract json_unquote json_length json_contains json_keys json_type json_valid json_value
    json_arrayagg json_objectagg
    """.split()
)
POSTGRES_FUNCTIONS = frozenset(
    """
    trunc div strpos split_part btrim initcap chr width_bucket
    date_trunc date_part date_bin to_char to_date to_timestamp to_number age make_date make_timestamp
    string_agg array_agg bool_and bool_or every percentile_cont percentile_disc mode
    unnest generate_series array_length cardinality
    json_agg jsonb_agg json_extract_path_text jsonb_extract_path_text json_array_length jsonb_array_length
    json_typeof jsonb_typeof
    """.split()
)
# Keywords after which '(' opens a subquery, a list or a clause, not a function call.
KEYWORDS_BEFORE_PAREN = frozenset(
    """
    SELECT FROM JOIN WHERE HAVING ON USING BY AS IN EXISTS ANY ALL SOME NOT AND OR XOR
    VALUES ROW ARRAY DISTINCT UNION INTERSECT EXCEPT LATERAL MATERIALIZED OVER FILTER GROUP
    SETS ROLLUP CUBE PARTITION INDEX KEY LIMIT OFFSET FIRST NEXT CASE WHEN THEN ELSE LIKE ILIKE
    TO REGEXP RLIKE DIV ESCAPE OF ZONE MATCH AGAINST IS BETWEEN
    """.split()
)


def allowed_functions(dialect: str) -> frozenset[str]:
    return (
        COMMON_FUNCTIONS
        | TYPE_NAMES
        | (MYSQL_FUNCTIONS if dialect == "mysql" else POSTGRES_FUNCTIONS)
    )
