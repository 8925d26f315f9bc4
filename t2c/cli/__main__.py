from t2c.cli import main

main()
