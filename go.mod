module github.com/carnet-sante/carnet

go 1.26.8
