from fake_gcs_launcher import main

main()
