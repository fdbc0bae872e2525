module github.com/docker/awesome-compose/nginx-golang/backend

go 1.18
