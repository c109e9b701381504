module github.com/travluk/ecom/e2e/checks

go 1.26.0
