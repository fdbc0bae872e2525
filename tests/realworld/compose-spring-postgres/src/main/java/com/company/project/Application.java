package com.company.project;

public class Application {
    public static void main(String[] args) {
        System.out.println("Hello from Spring");
    }
}
