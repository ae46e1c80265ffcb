# Letters, print batches and notifications arrive with the letter-exchange issue.
