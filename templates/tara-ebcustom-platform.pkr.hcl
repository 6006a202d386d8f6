# HCL2 twin of tara-ebcustom-platform.json: Elastic Beanstalk custom platform image (Node.js
# behind nginx with pm2) on Amazon Linux 2023. With AWS credentials it builds for real; on
# rpack's local stack the runner sets ec2_endpoint, ssh_host/ssh_port and a scratch
# eb_builder_root with skip_packages=1 so the loopback "instance" is never modified.

packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.0.0"
    }
  }
}

variable "platform_name" {
  type    = string
  default = env("AWS_EB_PLATFORM_NAME")
}
variable "platform_version" {
  type    = string
  default = env("AWS_EB_PLATFORM_VERSION")
}
variable "platform_arn" {
  type    = string
  default = env("AWS_EB_PLATFORM_ARN")
}
variable "region" {
  type    = string
  default = "us-east-1"
}
variable "ec2_endpoint" {
  type    = string
  default = ""
}
variable "ssh_host" {
  type    = string
  default = ""
}
variable "ssh_port" {
  type    = string
  default = "22"
}
variable "instance_type" {
  type    = string
  default = "t3.small"
}
variable "node_version" {
  type    = string
  default = "22"
}
variable "pm2_version" {
  type    = string
  default = "latest"
}
variable "repo_dir" {
  type    = string
  default = "{{template_dir}}/.."
}
variable "stage_dir" {
  type    = string
  default = "/tmp/eb-platform"
}
variable "eb_builder_root" {
  type    = string
  default = "/"
}
variable "skip_packages" {
  type    = string
  default = "0"
}

source "amazon-ebs" "HVM AMI builder" {
  region              = var.region
  custom_endpoint_ec2 = var.ec2_endpoint
  instance_type       = var.instance_type
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-x86_64"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["137112412989"]
    most_recent = true
  }
  ssh_username    = "ec2-user"
  ssh_host        = var.ssh_host
  ssh_port        = var.ssh_port
  ssh_timeout     = "10m"
  ami_name        = "tara-eb-${var.platform_name}-${var.platform_version}-{{timestamp}}"
  ami_description = "Node.js ${var.node_version} EB custom platform built from {{ .SourceAMIName }}"
  run_tags = {
    Name             = "tara-eb-builder"
    eb_platform_name = var.platform_name
  }
  tags = {
    eb_platform_name    = var.platform_name
    eb_platform_version = var.platform_version
    eb_platform_arn     = var.platform_arn
    Base_AMI_ID         = "{{ .SourceAMI }}"
    Base_AMI_Name       = "{{ .SourceAMIName }}"
    node_version        = var.node_version
  }
}

build {
  sources = ["source.amazon-ebs.HVM AMI builder"]

  provisioner "shell" {
    inline = ["mkdir -p ${var.stage_dir}/builders ${var.eb_builder_root}"]
  }
  provisioner "file" {
    source      = "${var.repo_dir}/builders/common"
    destination = "${var.stage_dir}/builders/"
  }
  provisioner "file" {
    source      = "${var.repo_dir}/builders/amazon"
    destination = "${var.stage_dir}/builders/"
  }
  provisioner "file" {
    source      = "${var.repo_dir}/provisioners"
    destination = "${var.stage_dir}/"
  }
  provisioner "shell" {
    environment_vars = [
      "EB_FLAVOR=amazon",
      "NODE_VERSION=${var.node_version}",
      "PM2_VERSION=${var.pm2_version}",
      "EB_STAGE_DIR=${var.stage_dir}",
      "EB_BUILDER_ROOT=${var.eb_builder_root}",
      "EB_BUILDER_SKIP_PACKAGES=${var.skip_packages}",
      "AWS_EB_PLATFORM_NAME=${var.platform_name}",
      "AWS_EB_PLATFORM_VERSION=${var.platform_version}",
    ]
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E {{ .Path }}"
    scripts         = ["${var.repo_dir}/provisioners/eb_builder.sh"]
  }
  provisioner "shell" {
    inline = ["rm -rf ${var.stage_dir}"]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      platform_name    = var.platform_name
      platform_version = var.platform_version
      node_version     = var.node_version
    }
  }
}
