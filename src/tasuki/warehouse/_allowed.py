"""Functions a warehouse query may call, per SQL dialect (see docs/warehouse.md).

sqlglot parses the functions it knows into typed classes (``exp.Upper``, ``exp.DateTrunc``,
``exp.ArrayAgg`` ...); those are pure computations and are allowed by their class, except the
ones :data:`tasuki.warehouse._denied.REFUSED_KINDS` names. Every other call is parsed to
``exp.Anonymous`` and is allowed only when its lowercase name is listed here for the dialect:
the read-only functions of the PostgreSQL, Redshift, DuckDB and BigQuery manuals (math,
strings, dates, JSON, arrays, full-text search, aggregates, window and set-returning
functions) and of common extensions (pg_trgm, fuzzystrmatch, unaccent, pgcrypto, PostGIS).
Whatever is not listed is refused; a warehouse's admin adds more with ``allow_functions``.

A name here never overrides a refusal in :mod:`tasuki.warehouse._denied`. Schema-qualified
calls match only a qualified entry (``hll_count.merge``), except PostgreSQL's built-in
``pg_catalog`` schema, which is the same as no schema.

``current_setting`` is allowed only with a literal name from :data:`SAFE_SETTINGS`: other
settings include server paths (``data_directory``, ``config_file``) and secrets.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ALLOWED_FUNCTIONS",
    "ALLOWED_PREFIXES",
    "BUILTIN_SCHEMAS",
    "SAFE_SETTINGS",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PG_MATH = _words(
    """
    abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10 min_scale mod
    pi power pow radians round scale sign sqrt trim_scale trunc width_bucket random
    random_normal acos acosd asin asind atan atand atan2 atan2d cos cosd cot cotd sin sind
    tan tand sinh cosh tanh asinh acosh atanh erf erfc gamma lgamma
    """
)
_PG_STRING = _words(
    """
    ascii bit_length btrim char_length character_length chr concat concat_ws format initcap
    left length lower lpad ltrim md5 normalize octet_length overlay parse_ident position
    quote_ident quote_literal quote_nullable regexp_count regexp_instr regexp_like
    regexp_match regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table
    regexp_substr repeat replace reverse right rpad rtrim split_part starts_with
    string_to_array string_to_table strpos substr substring to_ascii to_hex to_bin to_oct
    translate unistr upper casefold sha224 sha256 sha384 sha512 encode decode convert
    convert_from convert_to get_bit get_byte set_bit set_byte bit_count crc32 crc32c
    to_char to_date to_number to_timestamp text
    """
)
_PG_DATETIME = _words(
    """
    age clock_timestamp current_date current_time current_timestamp date_add date_subtract
    date_bin date_part date_trunc extract isfinite justify_days justify_hours
    justify_interval localtime localtimestamp make_date make_interval make_time
    make_timestamp make_timestamptz now statement_timestamp timeofday transaction_timestamp
    timezone pg_sleep pg_sleep_for pg_sleep_until
    """
)
_PG_TYPES = _words(
    """
    enum_first enum_last enum_range
    area center diameter height isclosed isopen npoints pclose popen radius slope width box
    circle line lseg path point polygon bound_box diagonal
    abbrev broadcast family host hostmask inet_merge inet_same_family masklen netmask network
    set_masklen macaddr8_set7bit
    gen_random_uuid uuidv4 uuidv7 uuid_extract_timestamp uuid_extract_version
    lower_inc upper_inc lower_inf upper_inf isempty range_merge multirange int4range
    int8range numrange tsrange tstzrange daterange int4multirange int8multirange
    nummultirange tsmultirange tstzmultirange datemultirange
    """
)
_PG_SEARCH = _words(
    """
    array_to_tsvector get_current_ts_config numnode plainto_tsquery phraseto_tsquery
    websearch_to_tsquery querytree setweight strip to_tsquery to_tsvector json_to_tsvector
    jsonb_to_tsvector ts_delete ts_filter ts_headline ts_rank ts_rank_cd tsquery_phrase
    tsvector_to_array ts_debug ts_lexize ts_parse ts_token_type
    similarity word_similarity strict_word_similarity show_trgm show_limit
    levenshtein levenshtein_less_equal soundex difference metaphone dmetaphone
    dmetaphone_alt daitch_mokotoff unaccent
    digest hmac crypt gen_salt gen_random_bytes pgp_sym_encrypt pgp_sym_decrypt
    """
)
_PG_XML_JSON = _words(
    """
    xmlcomment xmlconcat xmlelement xmlforest xmlpi xmlroot xmlagg xmlexists xmlparse
    xmlserialize xmltext xml_is_well_formed xml_is_well_formed_document
    xml_is_well_formed_content xpath xpath_exists
    to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array
    json_build_object jsonb_build_object json_object jsonb_object json_array_elements
    jsonb_array_elements json_array_elements_text jsonb_array_elements_text
    json_array_length jsonb_array_length json_each jsonb_each json_each_text jsonb_each_text
    json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text
    json_object_keys jsonb_object_keys json_populate_record jsonb_populate_record
    jsonb_populate_record_valid json_populate_recordset jsonb_populate_recordset
    json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset json_strip_nulls
    jsonb_strip_nulls jsonb_set jsonb_set_lax jsonb_insert jsonb_path_exists
    jsonb_path_match jsonb_path_query jsonb_path_query_array jsonb_path_query_first
    jsonb_path_exists_tz jsonb_path_match_tz jsonb_path_query_tz jsonb_path_query_array_tz
    jsonb_path_query_first_tz jsonb_pretty json_typeof jsonb_typeof json_agg jsonb_agg
    json_agg_strict jsonb_agg_strict json_object_agg jsonb_object_agg json_object_agg_strict
    jsonb_object_agg_strict json_object_agg_unique jsonb_object_agg_unique
    json_object_agg_unique_strict jsonb_object_agg_unique_strict json_scalar json_serialize
    json_array json_arrayagg json_objectagg json_exists json_query json_value
    """
)
_PG_COLLECTIONS = _words(
    """
    coalesce nullif greatest least num_nulls num_nonnulls row
    array_append array_cat array_dims array_fill array_length array_lower array_ndims
    array_position array_positions array_prepend array_remove array_replace array_reverse
    array_sample array_shuffle array_sort array_to_string array_upper cardinality
    trim_array unnest generate_series generate_subscripts
    """
)
_PG_AGGREGATES = _words(
    """
    any_value array_agg avg bit_and bit_or bit_xor bool_and bool_or count every max min
    range_agg range_intersect_agg string_agg sum corr covar_pop covar_samp regr_avgx
    regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy
    stddev stddev_pop stddev_samp variance var_pop var_samp mode percentile_cont
    percentile_disc grouping
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value
    """
)
_PG_SYSTEM = _words(
    """
    current_catalog current_database current_query current_role current_schema
    current_schemas current_user session_user user version pg_typeof format_type
    pg_size_pretty pg_size_bytes pg_column_size has_any_column_privilege
    has_column_privilege has_database_privilege has_foreign_data_wrapper_privilege
    has_function_privilege has_language_privilege has_parameter_privilege
    has_schema_privilege has_sequence_privilege has_server_privilege has_table_privilege
    has_tablespace_privilege has_type_privilege pg_has_role row_security_active
    obj_description col_description shobj_description to_regclass to_regtype
    to_regtypemod to_regproc to_regprocedure to_regnamespace to_regrole pg_table_is_visible
    pg_type_is_visible pg_function_is_visible pg_input_is_valid pg_input_error_info
    pg_get_constraintdef pg_get_indexdef pg_get_expr pg_get_userbyid pg_get_keywords
    pg_get_viewdef current_setting hashtext hashtextextended uuid_generate_v4
    """
)
_POSTGIS = _words(
    """
    st_distance st_dwithin st_intersects st_contains st_within st_covers st_coveredby
    st_overlaps st_touches st_crosses st_disjoint st_equals st_makepoint st_point
    st_setsrid st_srid st_transform st_x st_y st_astext st_asgeojson st_asbinary
    st_geomfromtext st_geomfromgeojson st_geogfromtext st_area st_length st_perimeter
    st_buffer st_centroid st_makeenvelope st_envelope st_union st_collect st_geohash
    st_npoints st_isvalid st_simplify st_intersection st_difference st_makeline
    st_closestpoint st_distancesphere st_azimuth
    """
)

_POSTGRES = (
    _PG_MATH
    | _PG_STRING
    | _PG_DATETIME
    | _PG_TYPES
    | _PG_SEARCH
    | _PG_XML_JSON
    | _PG_COLLECTIONS
    | _PG_AGGREGATES
    | _PG_SYSTEM
    | _POSTGIS
)

_REDSHIFT = _POSTGRES | _words(
    """
    getdate sysdate convert_timezone dateadd datediff months_between add_months last_day
    next_day date_cmp date_cmp_timestamp date_cmp_timestamptz interval_cmp timestamp_cmp
    timestamp_cmp_date timestamptz_cmp timestamptz_cmp_date date_add dexp dlog1 dlog10
    nvl nvl2 decode listagg median approximate ratio_to_report len charindex textlen
    replicate func_sha1 sha sha1 sha2 fnv_hash checksum strtol
    json_extract_array_element_text is_valid_json is_valid_json_array json_parse
    json_serialize_to_varbyte can_json_parse json_size get_array_length split_to_array
    subarray array_concat array_flatten is_array is_object is_scalar is_boolean is_char
    is_decimal is_float is_integer is_bigint is_smallint is_varchar object
    object_transform hll hll_cardinality hll_combine hll_combine_sketches
    hll_create_sketch st_geometrytype st_numpoints datepart
    """
)

_DUCKDB = _words(
    """
    abs acos add age any_value approx_count_distinct approx_quantile arg_max arg_min argmax
    argmin array_agg ascii asin atan atan2 avg bar base64 from_base64 to_base64 bin bit_and
    bit_count bit_length bit_or bit_position bit_xor bitstring bitstring_agg bool_and
    bool_or cardinality cbrt ceil ceiling century chr coalesce concat concat_ws contains
    corr cos cot count count_if count_star covar_pop covar_samp current_date
    current_localtime current_localtimestamp current_schema current_schemas
    current_database current_query date_add date_diff date_part date_sub date_trunc
    datediff datepart datesub datetrunc day dayname dayofmonth dayofweek dayofyear decade
    degrees divide editdist3 element_at ends_with entropy epoch epoch_ms epoch_us epoch_ns
    era error even exp factorial favg first flatten floor format format_bytes
    formatreadablesize formatreadabledecimalsize from_binary from_hex from_json
    from_json_strict fsum gamma gcd gen_random_uuid uuid generate_series
    generate_subscripts get_bit get_current_time get_current_timestamp greatest
    greatest_common_divisor hamming hash hex histogram hour instr isfinite isinf isnan
    isodow isoyear jaccard jaro_similarity jaro_winkler_similarity json_array
    json_array_length json_contains json_each json_exists json_extract json_extract_path
    json_extract_path_text json_extract_string json_group_array json_group_object
    json_group_structure json_keys json_merge_patch json_object json_pretty json_quote
    json_structure json_transform json_transform_strict json_tree json_type json_valid
    json_value kahan_sum kurtosis kurtosis_pop lag last last_day last_value lcase lcm lead
    least least_common_multiple left left_grapheme len length length_grapheme levenshtein
    lgamma like_escape ilike_escape not_like_escape not_ilike_escape list list_value ln log
    log10 log2 lower lpad ltrim mad make_date make_time make_timestamp make_timestamptz
    make_timestamp_ns map max max_by md5 md5_number median microsecond millennium
    millisecond min min_by minute mismatches mod mode month monthname multiply nextafter
    nfc_normalize now nth_value ntile nullif octet_length ord parse_dirname parse_dirpath
    parse_filename parse_path percent_rank pi position pow power prefix printf product
    quantile quantile_cont quantile_disc quarter radians random range rank dense_rank
    cume_dist reduce regexp_escape regexp_extract regexp_extract_all regexp_full_match
    regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table regr_avgx
    regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy
    repeat repeat_row replace reservoir_quantile reverse right right_grapheme round
    round_even roundbankers row row_number row_to_json rpad rtrim second sem sha1 sha256
    sign signbit sin skewness split split_part sqrt starts_with stddev stddev_pop
    stddev_samp str_split str_split_regex strftime string_agg string_split
    string_split_regex string_to_array strip_accents strlen strpos strptime substr
    substring substring_grapheme subtract suffix sum sum_no_overflow sumkahan tan
    time_bucket timezone timezone_hour timezone_minute to_days to_hours to_json
    to_microseconds to_milliseconds to_minutes to_months to_seconds to_timestamp to_weeks
    to_years to_centuries to_decades to_millennia today transaction_timestamp translate
    trim trunc try_strptime typeof ucase unbin unhex unicode union_extract union_tag
    union_value unnest upper var_pop var_samp variance version week weekday weekofyear
    xor year yearweek first_value current_setting icu_sort_key json damerau_levenshtein
    geomean geometric_mean arbitrary countif group_concat listagg enum_range enum_first
    enum_last enum_code
    """
)

_BIGQUERY = _words(
    """
    abs acos acosh asin asinh atan atan2 atanh cbrt ceil ceiling cos cosh cot coth csc csch
    div exp floor greatest ieee_divide is_inf is_nan least ln log log10 mod pow power rand
    range_bucket round safe_add safe_divide safe_multiply safe_negate safe_subtract sec
    sech sign sin sinh sqrt tan tanh trunc cosine_distance euclidean_distance
    ascii byte_length char_length character_length chr code_points_to_bytes
    code_points_to_string collate concat contains_substr edit_distance ends_with format
    from_base32 from_base64 from_hex initcap instr left length lower lpad ltrim normalize
    normalize_and_casefold octet_length regexp_contains regexp_extract regexp_extract_all
    regexp_instr regexp_replace regexp_substr repeat replace reverse right rpad rtrim
    safe_convert_bytes_to_string soundex split starts_with strpos substr substring
    to_base32 to_base64 to_code_points to_hex translate trim unicode upper
    farm_fingerprint md5 sha1 sha256 sha512
    current_date current_datetime current_time current_timestamp date date_add date_diff
    date_from_unix_date date_sub date_trunc date_bucket datetime datetime_add
    datetime_bucket datetime_diff datetime_sub datetime_trunc extract format_date
    format_datetime format_time format_timestamp last_day parse_date parse_datetime
    parse_time parse_timestamp time time_add time_diff time_sub time_trunc timestamp
    timestamp_add timestamp_bucket timestamp_diff timestamp_micros timestamp_millis
    timestamp_seconds timestamp_sub timestamp_trunc unix_date unix_micros unix_millis
    unix_seconds justify_days justify_hours justify_interval make_interval
    range range_start range_end range_contains range_overlaps range_intersect
    generate_range_array range_sessionize
    json_extract json_extract_array json_extract_scalar json_extract_string_array
    json_query json_query_array json_value json_value_array json_type json_keys
    json_array json_object json_set json_remove json_strip_nulls json_array_append
    json_array_insert json_contains json_flatten lax_bool lax_float64 lax_int64 lax_string
    bool int64 float64 string parse_json to_json to_json_string
    array array_concat array_length array_reverse array_to_string array_agg
    array_concat_agg array_first array_last array_slice array_filter array_transform
    array_includes array_includes_any array_includes_all array_max array_min array_sum
    array_avg generate_array generate_date_array generate_timestamp_array unnest
    any_value approx_count_distinct approx_quantiles approx_top_count approx_top_sum avg
    bit_and bit_or bit_xor count countif logical_and logical_or max max_by min min_by
    string_agg sum corr covar_pop covar_samp stddev stddev_pop stddev_samp var_pop
    var_samp variance grouping
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value percentile_cont percentile_disc
    coalesce if ifnull nullif nullifzero zeroifnull iif error generate_uuid offset ordinal
    safe_offset safe_ordinal
    session_user current_user
    st_area st_asbinary st_asgeojson st_astext st_azimuth st_boundary st_buffer
    st_centroid st_closestpoint st_contains st_convexhull st_coveredby st_covers
    st_difference st_dimension st_disjoint st_distance st_dwithin st_equals st_geogfrom
    st_geogfromgeojson st_geogfromtext st_geogfromwkb st_geogpoint st_geogpointfromgeohash
    st_geohash st_intersection st_intersects st_isempty st_length st_makeline
    st_makepolygon st_npoints st_perimeter st_pointn st_simplify st_snaptogrid st_touches
    st_union st_union_agg st_within st_x st_y st_centroid_agg st_extent
    hll_count.init hll_count.merge hll_count.merge_partial hll_count.extract
    net.host net.reg_domain net.public_suffix net.ip_from_string net.safe_ip_from_string
    net.ip_to_string net.ip_net_mask net.ip_trunc net.ipv4_from_int64 net.ipv4_to_int64
    aead.encrypt aead.decrypt_bytes aead.decrypt_string deterministic_encrypt
    deterministic_decrypt_bytes deterministic_decrypt_string keys.new_keyset
    keys.add_key_from_raw_bytes keys.keyset_length keys.keyset_to_json
    keys.keyset_from_json keys.rotate_keyset
    """
)

ALLOWED_FUNCTIONS: Mapping[str, frozenset[str]] = {
    "postgres": _POSTGRES,
    "redshift": _REDSHIFT,
    "duckdb": _DUCKDB,
    "bigquery": _BIGQUERY,
}
"""Per dialect: lowercase names of functions sqlglot does not type that a query may call."""

ALLOWED_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "postgres": (),
    "redshift": (),
    # DuckDB's list, array, struct and map functions are all pure value functions (there
    # are over a hundred, with aliases); refusals are still checked first.
    "duckdb": ("list_", "array_", "struct_", "map_"),
    "bigquery": (),
}
"""Per dialect: name prefixes allowed like the names above."""

BUILTIN_SCHEMAS: Mapping[str, frozenset[str]] = {
    "postgres": frozenset({"pg_catalog"}),
    "redshift": frozenset({"pg_catalog"}),
    "duckdb": frozenset(),
    "bigquery": frozenset(),
}
"""Per dialect: schemas whose functions are the built-in ones (the qualifier is ignored)."""

SAFE_SETTINGS = _words(
    """
    timezone datestyle intervalstyle search_path server_version server_version_num
    server_encoding client_encoding lc_collate lc_ctype lc_messages lc_monetary lc_numeric
    lc_time default_text_search_config statement_timeout transaction_isolation
    transaction_read_only default_transaction_read_only application_name
    extra_float_digits standard_conforming_strings integer_datetimes max_identifier_length
    block_size work_mem bytea_output threads memory_limit default_order
    default_null_order calendar
    """
)
"""Settings ``current_setting('…')`` may read (lowercase): none names a path or a secret."""
