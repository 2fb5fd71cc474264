"""Hypothesis strategies for Markdown documents that stress where code is: fences of both
kinds and lengths, indented code, lists and quotes holding code, HTML blocks and comments,
tables, and the wiki-link shapes of the link grammar (spaced, escaped, embedded, in code)."""

from __future__ import annotations

from hypothesis import strategies as st

WORDS = st.sampled_from(
    [
        "word",
        "[[a]]",
        "[[b|x]]",
        "[[c#h]]",
        "[[#h]]",
        "![[i.png]]",
        "[[ s ]]",
        "[[t | u]]",
        "\\[[e]]",
        "[[t\\|x]]",
        "`",
        "``",
        "```",
        "\\`",
        "`[[k]]`",
        "``[[k]] ` x``",
        "<!--",
        "-->",
        "<!-- [[m]] -->",
        "<span>",
        '<a title="`">',
        "<https://x.org/`>",
        "<b@c.de>",
        "[l](u)",
        "[l](`u`)",
        "[l](u 't`')",
        "![i](u)",
        "*",
        "_",
        "#",
        "|",
        "\\",
        "<",
        ">",
        "~~~",
        "&#96;",
        "]:",
        "[r]",
        "-",
        "1.",
        "\t",
        " ",
        "  ",
    ]
)
TEXT = st.lists(WORDS, min_size=1, max_size=8).map(" ".join)
INDENT = st.sampled_from(["", " ", "  ", "   ", "    ", "      ", "\t"])


@st.composite
def fence(draw: st.DrawFn) -> list[str]:
    char = draw(st.sampled_from("`~"))
    indent = draw(st.sampled_from(["", " ", "  ", "   "]))
    opening = char * draw(st.integers(3, 5))
    info = draw(st.sampled_from(["", "sh", " yaml", "a`b", "x ~~~"]))
    lines = [indent + opening + info]
    lines += draw(st.lists(st.one_of(TEXT, st.just("")), max_size=3))
    closing = draw(st.sampled_from(["none", "same", "longer", "shorter", "other", "indented"]))
    if closing == "same":
        lines.append(
            draw(st.sampled_from(["", " ", "   "]))
            + opening
            + draw(st.sampled_from(["", " ", "\t"]))
        )
    elif closing == "longer":
        lines.append(opening + char)
    elif closing == "shorter":
        lines.append(opening[:-1])
    elif closing == "other":
        lines.append(("~" if char == "`" else "`") * len(opening))
    elif closing == "indented":
        lines.append("    " + opening)
    return lines


@st.composite
def block(draw: st.DrawFn) -> list[str]:
    kind = draw(
        st.sampled_from(
            [
                "text",
                "text",
                "text",
                "blank",
                "fence",
                "indented",
                "heading",
                "setext",
                "hr",
                "list",
                "quote",
                "comment",
                "table",
                "html",
            ]
        )
    )
    if kind == "text":
        return [draw(INDENT) + draw(TEXT) for _ in range(draw(st.integers(1, 3)))]
    if kind == "blank":
        return [draw(st.sampled_from(["", " ", "    "]))]
    if kind == "fence":
        return draw(fence())
    if kind == "indented":
        return ["    " + draw(TEXT) for _ in range(draw(st.integers(1, 2)))]
    if kind == "heading":
        return [
            "#" * draw(st.integers(1, 7))
            + draw(st.sampled_from([" ", "", "\t"]))
            + draw(TEXT)
            + draw(st.sampled_from(["", " #", " ##  ", "#"]))
        ]
    if kind == "setext":
        return [draw(st.sampled_from(["===", "---", "-", "--", "= =", "- - -", "***", "___"]))]
    if kind == "hr":
        return [
            draw(st.sampled_from(["", " ", "  "]))
            + draw(st.sampled_from(["---", "***", "* * *", "___"]))
        ]
    if kind == "list":
        marker = draw(st.sampled_from(["-", "*", "+", "1.", "2)", "10."]))
        pad = draw(st.sampled_from([" ", "  ", "     ", "\t", ""]))
        lines = [draw(st.sampled_from(["", "  ", "    "])) + marker + pad + draw(TEXT)]
        for inner in draw(
            st.lists(
                st.sampled_from(["text", "fence", "code", "blank", "lazy", "nested", "comment"]),
                max_size=3,
            )
        ):
            if inner == "text":
                lines.append("  " + draw(TEXT))
            elif inner == "fence":
                lines += ["   " + line for line in draw(fence())]
            elif inner == "code":
                lines.append("      " + draw(TEXT))
            elif inner == "blank":
                lines.append("")
            elif inner == "lazy":
                lines.append(draw(TEXT))
            elif inner == "comment":
                lines.append(
                    draw(st.sampled_from(["", " ", "  ", "   ", "    ", "      "]))
                    + "<!-- "
                    + draw(TEXT)
                    + draw(st.sampled_from([" -->", " --> [[after]]", " --> `[[x]]`", ""]))
                )
            else:
                lines.append("    - " + draw(TEXT))
        return lines
    if kind == "quote":
        inner_lines = draw(
            st.lists(
                st.one_of(TEXT, st.just(""), st.just("```"), st.just("    code [[q]]")),
                min_size=1,
                max_size=3,
            )
        )
        return [draw(st.sampled_from([">", "> ", ">>"])) + line for line in inner_lines]
    if kind == "comment":
        body = draw(st.lists(TEXT, max_size=2))
        return [
            "<!-- " + draw(TEXT),
            *body,
            draw(TEXT) + " -->" + draw(st.sampled_from(["", " [[after]]"])),
        ]
    if kind == "table":
        return ["| a | b |", "|---|---|", "| [[t\\|x]] | `c|d` " + draw(TEXT) + " |"]
    return [
        draw(st.sampled_from(["<div>", "<pre>", "<span>x</span>", "<?x", "<!X"])),
        draw(TEXT),
        "",
    ]


@st.composite
def document(draw: st.DrawFn) -> str:
    lines = [line for blk in draw(st.lists(block(), min_size=1, max_size=10)) for line in blk]
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))
