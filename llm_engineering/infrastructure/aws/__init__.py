"""The AWS adapters: boto3 clients, SageMaker training jobs, and the twin's SageMaker endpoint."""
