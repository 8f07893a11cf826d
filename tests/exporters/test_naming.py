"""Safe, unique file and sheet names for any metric name."""

from __future__ import annotations

from genmon.exporters.naming import SHEET_NAME_LIMIT, NameAllocator, file_part, sheet_base


def test_file_parts_keep_afterimages_names_where_the_file_system_allows() -> None:
    """As afterimage named them: only / and NUL change (and on Windows its reserved characters); long names get a hash."""
    assert file_part("model_usage:gpt-4o", windows=False) == "model_usage:gpt-4o"
    assert file_part("a/b\\c d*?", windows=False) == "a_b\\c d*?"
    assert file_part("nul\x00here", windows=False) == "nul_here"
    assert file_part('a<b>c:d"e\\f|g?h*i.', windows=True) == "a_b_c_d_e_f_g_h_i"
    long_a, long_b = file_part("x" * 200 + "a"), file_part("x" * 200 + "b")
    assert len(long_a) == 100 and long_a != long_b
    accented = file_part("é" * 200)
    assert len(accented.encode()) <= 100 and accented.startswith("é")


def test_sheet_bases_drop_excel_forbidden_characters_and_edge_apostrophes() -> None:
    """: / \\ ? * [ ] are replaced, leading and trailing apostrophes removed, empty names get a default."""
    assert sheet_base("a:b/c\\d?e*f[g]h") == "a_b_c_d_e_f_g_h"
    assert sheet_base("'quoted'") == "quoted"
    assert sheet_base("''") == "metric"


def test_the_allocator_keeps_names_unique_ignoring_case_within_the_limit() -> None:
    """Clashing names get ~2, ~3 suffixes without passing the limit or ending in an apostrophe."""
    allocator = NameAllocator(SHEET_NAME_LIMIT, reserved=("summary",))
    names = [allocator.allocate(n) for n in ["x" * 40, "X" * 40, "x" * 35, "Summary", "a" * 30 + "'b"]]
    assert names[0] == "x" * 31
    assert names[1] == "X" * 29 + "~2"
    assert names[2] == "x" * 29 + "~3"
    assert names[3] == "Summary~2"
    assert names[4] == "a" * 30
    assert all(len(n) <= SHEET_NAME_LIMIT for n in names)
