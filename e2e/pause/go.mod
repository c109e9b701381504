module github.com/travluk/ecom/e2e/pause

go 1.26.0
