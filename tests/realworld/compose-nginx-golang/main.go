package main

import (
	"fmt"
	"log"
	"net/http"
)

func handler(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Hello from Docker!\n")
}

func main() {
	http.HandleFunc("/", handler)
	fmt.Println("Go backend started!")
	log.Fatal(http.ListenAndServe(":80", nil))
}
