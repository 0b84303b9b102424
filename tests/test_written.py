"""Written Questions 1 and 2: the PDFs build, read well on their own, and agree with
the notebook's numbers."""

import math
import subprocess

import pytest
from conftest import ROOT, pdf_image_count, pdf_text

ANSWERS = {
    "Q1_xor_rnn": ["Item 1", "Item 2", "Item 3", "Item 4", "Item 5"],
    "Q2_tanh": ["Item 1", "Item 2", "Item 3", "Item 4"],
}


@pytest.fixture(scope="module")
def built_pdfs(tmp_path_factory):
    out = tmp_path_factory.mktemp("written")
    subprocess.run(
        ["make", "-s", "-B", "-C", str(ROOT), "written", f"PDF_DIR={out}"],
        check=True,
        capture_output=True,
    )
    return out


def quoted(nb):
    """The numbers Written Question 2 quotes, from the notebook's own functions."""
    eps = 0.05
    rho, rho_approx = nb.rho(eps), nb.rho_approx(eps)
    return {
        "rho_approx": f"{rho_approx:.6f}",
        "rho": f"{rho:.6f}",
        "bound": f"{2 / math.sqrt(5):.4f}",
        "per_step": f"{1 / rho:.4g}",
        "rho20": f"{rho**20:.4g}".split("e")[0],
        "rho_approx20": f"{rho_approx**20:.4g}".split("e")[0],
        "literal": f"{nb.sigmoid_derivative(eps) / math.tanh(eps):.4g}",
        "sigma_dot": f"{nb.sigmoid_derivative(eps):.6f}",
        "tanh_dot": f"{nb.tanh_derivative(eps):.6f}",
        "gap": f"{rho_approx / rho - 1:.3g}".replace("e-06", ""),
    }


@pytest.mark.parametrize("answer", ANSWERS)
def test_each_pdf_has_its_items_and_a_figure(built_pdfs, answer):
    pdf = built_pdfs / f"{answer}.pdf"
    text = pdf_text(pdf)
    assert "Lastname, Firstname" in text
    for heading in ANSWERS[answer]:
        assert heading in text
    if answer == "Q1_xor_rnn":  # drawn in the PDF itself (TikZ)
        assert "XOR net" in text and "𝑠[2] = 𝑦[1]" in text and "the next state" in text
    else:
        assert pdf_image_count(pdf) >= 1, "the notebook's figure is embedded"


def test_q1_pdf_states_the_construction_and_the_check(built_pdfs, nb):
    text = pdf_text(built_pdfs / "Q1_xor_rnn.pdf")
    checked = sum(2**length for length in range(1, 13))
    assert (
        f"all {checked} binary" in text
        and "0 mismatches" in text
        and "hidden state" in text
    )
    assert [nb.xor_network(x, s) for x in (0, 1) for s in (0, 1)] == [0, 1, 1, 0]
    assert all(nb.xor_rnn([x])[0] == x for x in (0, 1)), "s[1] = 0 gives y[1] = x[1]"


def test_q2_markdown_and_pdf_quote_the_notebook_numbers(built_pdfs, nb):
    markdown = (ROOT / "written" / "Q2_tanh.md").read_text()
    text = pdf_text(built_pdfs / "Q2_tanh.pdf")
    for name, value in quoted(nb).items():
        assert value in markdown, f"{name} = {value} is not in Q2_tanh.md"
        assert value in text, f"{name} = {value} is not in Q2_tanh.pdf"


def test_q2_approximations_are_the_stated_polynomials(nb):
    for eps in (0.0, 0.05, 0.3):
        assert nb.rho_approx(eps) == pytest.approx((4 - eps**2) / (16 * (1 - eps**2)))
        assert nb.sigmoid_derivative(eps) == pytest.approx(
            nb.sigmoid_derivative_approx(eps), abs=eps**4
        )
        assert nb.tanh_derivative(eps) == pytest.approx(
            nb.tanh_derivative_approx(eps), abs=eps**4
        )
    bound = 2 / math.sqrt(5)
    assert nb.sigmoid_derivative_approx(bound) == pytest.approx(
        nb.tanh_derivative_approx(bound)
    )


@pytest.mark.parametrize("answer", ANSWERS)
def test_committed_pdf_is_the_current_markdown(built_pdfs, answer):
    committed = ROOT / "written" / f"{answer}.pdf"
    assert pdf_text(committed) == pdf_text(built_pdfs / f"{answer}.pdf"), (
        "run `make written` and commit"
    )
