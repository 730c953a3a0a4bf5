"""The AWS adapters: boto3 clients, the SageMaker endpoint and its autoscaling, model folders in S3."""
